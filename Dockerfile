# The MRNet triage service. CPU image (the default):
#   docker build -t mrnet-service .
# CUDA image: a CUDA build of torch from the PyTorch index of that CUDA version; the
# NVIDIA container toolkit supplies the driver at run time, the wheels bring the rest.
#   docker build -t mrnet-service:cuda --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 .
ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder: a virtual environment with torch, the dependencies and the service wheel
FROM ${PYTHON_IMAGE} AS builder

ARG TORCH_SPEC="torch==2.13.0"
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

# torch first and from its own index: the project's open "torch>=" requirement would
# otherwise pull PyPI's multi-GB CUDA build into the CPU image. (TORCH_SPEC pins it;
# hadolint cannot see through the build argument.)
# hadolint ignore=DL3013
RUN python -m venv /opt/venv \
    && pip install --index-url "${TORCH_INDEX}" "${TORCH_SPEC}"

WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
# A wheel, not the source tree: the image holds exactly what the package ships.
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && pip install /wheels/*.whl
# Fails the build when the wheel lacks a file of the source package (the viewer's
# static files are package data, easy to lose to a packaging change).
COPY deploy/docker/check_wheel.py /tmp/check_wheel.py
RUN python /tmp/check_wheel.py /wheels/*.whl /src/service

# Readable by the unprivileged user whatever the modes in the build context were;
# done here so the runtime image gets one layer of it, not two.
COPY model_store /model_store
RUN chmod -R u=rwX,go=rX /model_store

# ---- runtime: the slim base, the environment, the model store; no compilers, no source
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    MRNET_MODEL_STORE=/app/model_store

RUN groupadd --system --gid 10001 mrnet \
    && useradd --system --uid 10001 --gid mrnet --no-create-home --home-dir /nonexistent mrnet

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# Baked in, owned by root and read-only to the service; mount a volume over
# /app/model_store to serve other packages without a rebuild.
COPY --from=builder /model_store ./model_store
# Data sets (MRNET_DATASETS, default {"demo": "data/demo"}) are mounted under /app/data.
RUN mkdir -p /app/data

USER 10001:10001
EXPOSE 8000
# Ready, not just alive: the models are verified, on their device and warmed up.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=2)"]
# Within docker stop's grace period (compose sets 40 s) in-flight predictions finish.
CMD ["mrnet", "serve", "--host", "0.0.0.0", "--port", "8000", "--graceful-shutdown-s", "30"]
