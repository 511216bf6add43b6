FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY app app
COPY ops_center ops_center
COPY ingest ingest
COPY geo geo
COPY alerts alerts
COPY api api
RUN pip install --no-cache-dir -c constraints.txt .
# a new named volume mounted here takes this owner, so the migrate step can write the signing key
RUN mkdir -p /signing && chown nobody /signing && chmod 700 /signing
USER nobody
