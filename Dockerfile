# CPU image of the MRNet triage service. Build: docker build -t mrnet-service .
# For CUDA, pass a CUDA build of torch: --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu124
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

ARG TORCH_SPEC="torch==2.13.0"
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

WORKDIR /app
RUN pip install --index-url "${TORCH_INDEX}" "${TORCH_SPEC}"

COPY pyproject.toml README.md ./
COPY service ./service
RUN pip install .

COPY model_store ./model_store
RUN useradd --system --uid 10001 mrnet && mkdir -p /app/data && chown mrnet /app/data
USER mrnet

ENV MRNET_MODEL_STORE=/app/model_store
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready')"
CMD ["mrnet", "serve", "--host", "0.0.0.0", "--port", "8000"]
