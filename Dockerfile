FROM python:3.11-slim
WORKDIR /app
# torch first, pinned, so the project's own dependencies never pick a different build.
RUN pip install --no-cache-dir torch==2.13.0
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY prompts ./prompts
RUN pip install --no-cache-dir '.[postgres]'
ENV DIANXIAOER_PROMPTS_DIR=/app/prompts
CMD ["dianxiaoer", "run"]
