# One image for every app service of compose.yaml: api, token, workers, migrate.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 otp \
    && useradd --system --uid 10001 --gid otp --home-dir /app --shell /usr/sbin/nologin otp

WORKDIR /app
COPY . /app
# The runtime dependencies only: no [test] or [dev] extra in the image.
RUN pip install /app
# Run the code from /app rather than site-packages: message templates (templates/) are
# read from the source tree next to the packages.
ENV PYTHONPATH=/app

# The JWT key volume is mounted here; owned by the app user so the `keys` job can write it.
RUN mkdir -p /run/secrets && chown otp:otp /run/secrets

USER otp
EXPOSE 8000 8001 9191
CMD ["otp", "--help"]
