# hxim in a container: python:3.11-slim, the pinned versions of constraints.txt, the user hxim,
# the data in the volume /var/lib/hxim. Build and run: docs/deployment.md, "In a container".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/hxim
# the dependencies first, in a layer of their own: it is rebuilt only when they change
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
COPY README.md ./
COPY src ./src
RUN pip install --no-deps . \
    && useradd --system --home-dir /var/lib/hxim --shell /usr/sbin/nologin hxim \
    && mkdir -p /var/lib/hxim /etc/hxim \
    && chown hxim:hxim /var/lib/hxim

# the data directory, and a config file read if one is mounted there (a missing one reads as none)
ENV HXIM_DATA_DIR=/var/lib/hxim \
    HXIM_CONFIG=/etc/hxim/hxim.toml
VOLUME /var/lib/hxim
USER hxim
WORKDIR /var/lib/hxim

# 5280: HTTP (REST, XMPP over WebSocket and BOSH, msync); 5222: XMPP over TCP (needs a certificate)
EXPOSE 5280 5222
# healthy while the server answers GET /health with 200 (docs/operating.md)
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["python", "-c", "import os, sys, urllib.request\ntry:\n    urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('HXIM_HTTP_PORT', '5280'), timeout=4)\nexcept OSError:\n    sys.exit(1)"]

CMD ["hxim", "serve"]
