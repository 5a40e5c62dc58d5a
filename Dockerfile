# One image for every Kerbside process: `kerbside api` (the default), `kerbside db upgrade`,
# and later `kerbside ingest` and `kerbside scheduler`; docker-compose.yml picks the command.

# --- build: turn the source tree into a wheel, and list the runtime dependencies -------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
# requirements.txt is read from pyproject.toml so the runtime stage can install the
# dependencies in a layer of their own, rebuilt only when that list changes.
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && pip wheel --no-deps --wheel-dir /dist .

# --- runtime: dependencies, then the kerbside wheel; no sources, no build tools --------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KERBSIDE_HOST=0.0.0.0 \
    KERBSIDE_PORT=8000
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/kerbside kerbside
COPY --from=build /src/requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt
COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-deps /tmp/dist/*.whl && rm -r /tmp/dist

USER kerbside
WORKDIR /var/lib/kerbside
EXPOSE 8000
# Liveness only (the process answers); compose checks /readyz, which also needs the database.
# slim has no curl, so Python's urllib does it: any error or non-2xx status exits non-zero.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('KERBSIDE_PORT', '8000') + '/healthz', timeout=4)"]
CMD ["kerbside", "api"]
