FROM python:3.11.11-slim-bookworm
WORKDIR /app
# As the Makefile does: the CPU build of torch first, pinned, so the project's own dependencies
# never pull a multi-GB CUDA build; then the project with its PostgreSQL driver.
ARG TORCH=torch==2.13.0+cpu
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --no-cache-dir --extra-index-url ${TORCH_INDEX} ${TORCH}
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY prompts ./prompts
RUN pip install --no-cache-dir '.[postgres]'
ENV DIANXIAOER_PROMPTS_DIR=/app/prompts
# The data dir holds customer messages: run as a user of its own, not root.
RUN useradd --create-home --uid 1000 dianxiaoer && mkdir -p /data && chown dianxiaoer /data
USER dianxiaoer
CMD ["dianxiaoer", "run"]
