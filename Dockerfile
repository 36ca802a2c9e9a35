# The service image: the same package and CLI as a developer's `make run`.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY alembic ./alembic
COPY fixtures ./fixtures
COPY openapi ./openapi
RUN pip install --no-cache-dir -e .
ENV HOST=0.0.0.0 PORT=8000
EXPOSE 8000
CMD ["sh", "-c", "crisis-facts migrate && crisis-facts load && crisis-facts serve"]
