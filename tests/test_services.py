"""The composition root builds each long-lived object once and every consumer shares it."""

from bot.config import Settings
from bot.services import Services


def test_one_embedder_one_engine_one_knowledge_base_shared_by_everything(sample_shop, tmp_path, e5):
    services = Services(sample_shop.copy_to(tmp_path), embedder=e5)
    knowledge = services.knowledge
    assert knowledge.embedder is services.embedder is e5
    assert knowledge.replica is None  # embedded Chroma: nothing to follow
    assistant = services.assistant
    assert assistant.knowledge is knowledge and assistant.engine is services.engine
    writer = services.push_writer
    assert writer.engine is services.engine
    assert services.assistant is assistant  # built once
    services.close()
    assert "engine" not in services.__dict__


def test_a_chroma_server_set_once_makes_the_knowledge_base_follow_other_replicas(tmp_path, e5):
    settings = Settings(data_dir=tmp_path, chroma_url="http://127.0.0.1:9", _env_file=None)
    services = Services(settings, embedder=e5)
    knowledge = services.knowledge  # Chroma is opened lazily: nothing is contacted yet
    assert knowledge.replica is not None
    assert knowledge.replica.collection.startswith("faq_")
    assert knowledge.replica._engine() is services.engine  # the stamp lives in the memory database
    services.close()
