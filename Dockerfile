# The service image: the package installed as a user installs it (not editable; migrations,
# fixtures and examples ship inside it), run as an unprivileged user.
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
COPY alembic ./alembic
COPY fixtures ./fixtures
COPY openapi ./openapi
RUN pip install --no-cache-dir . && rm -rf /src \
    && useradd --create-home --home-dir /var/lib/crisis-facts --uid 10001 crisis
USER crisis
WORKDIR /var/lib/crisis-facts
ENV HOST=0.0.0.0 PORT=8000
EXPOSE 8000
# Ready means the database answers at the code's migration head (GET /ready).
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=2)"
# Serves only: migrations and loads run once, apart (docker-compose.yml's `migrate`).
CMD ["crisis-facts", "serve"]
