# syntax=docker/dockerfile:1
# Gradient Lab: the Streamlit dashboard and its training workers in one image.
#
#   docker build -t gradient-lab:gpu .                         (default: VARIANT=gpu)
#   docker build -t gradient-lab:cpu --build-arg VARIANT=cpu .
#   docker run --gpus all -p 8501:8501 -v gradlab-cache:/app/models_cache gradient-lab:gpu
#
# Base: slim Python 3.11 + pip's CUDA wheels (tensorflow[and-cuda]) rather than the official
# tensorflow/tensorflow:2.21.0-gpu image, because
#   - the interpreter and every pin are the ones CI tests (requirements.txt, via .ci/install.sh);
#     the official image brings its own Python and pre-installed packages that would drift;
#   - the CPU variant is the same image minus the CUDA wheels, not a second base to maintain;
#   - CUDA/cuDNN user-space libraries arrive as versioned wheels matched to TensorFlow by pip,
#     so the host only needs the NVIDIA driver + NVIDIA Container Toolkit.
# bookworm is named explicitly so the apt pin below stays valid when "slim" moves on.
FROM python:3.11-slim-bookworm

# gpu | cpu: which dependency set .ci/install.sh installs.
ARG VARIANT=gpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# tini as PID 1: forwards `docker stop`'s SIGTERM to Streamlit (a bare PID 1 ignores it and
# waits for the SIGKILL) and reaps orphaned training workers.
RUN apt-get update \
    && apt-get install -y --no-install-recommends "tini=0.19.0-1*" \
    && rm -rf /var/lib/apt/lists/*

# Unprivileged runtime user; it owns only the run store.
RUN useradd --create-home --no-log-init --uid 10001 --user-group app

WORKDIR /app

# Dependencies first, in their own layer: code edits don't reinstall TensorFlow.
COPY requirements.txt ./
COPY .ci/install.sh .ci/install.sh
RUN bash .ci/install.sh "${VARIANT}"

# The code stays root-owned (read-only for the app user); .dockerignore keeps runs,
# caches, venvs and .git out of the build context.
COPY . .

# Owned by the app user before VOLUME, so a fresh named volume inherits that ownership.
RUN mkdir -p /app/models_cache && chown app:app /app/models_cache
VOLUME ["/app/models_cache"]

# Server settings that only make sense in a container; everything else is .streamlit/config.toml.
# "utility" makes the toolkit mount nvidia-smi, which the sidebar uses to name the GPU.
ENV MODELS_CACHE=/app/models_cache \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_SERVER_ADDRESS=0.0.0.0 \
    STREAMLIT_SERVER_PORT=8501 \
    STREAMLIT_SERVER_FILE_WATCHER_TYPE=none \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    TF_CPP_MIN_LOG_LEVEL=2 \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

# Numeric, so Kubernetes runAsNonRoot and host tools can verify it without /etc/passwd.
USER 10001:10001
EXPOSE 8501

# No curl in a slim image; urlopen raises (exit 1) on refusal, timeout or a non-2xx status.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4)"]

ENTRYPOINT ["tini", "--"]
CMD ["streamlit", "run", "app.py"]
