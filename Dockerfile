FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY ops_center ops_center
COPY ingest ingest
COPY geo geo
COPY alerts alerts
COPY api api
RUN pip install --no-cache-dir -c constraints.txt .
USER nobody
