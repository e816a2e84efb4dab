# One image for every TCAM Bridge service; compose.yaml picks the command per service.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY services ./services
COPY schemas ./schemas
RUN pip install . && useradd --system --uid 10001 tcam
USER tcam
ENTRYPOINT ["tcam"]
CMD ["run"]
