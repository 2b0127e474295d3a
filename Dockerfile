FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service service
COPY devices devices
COPY analytics analytics
COPY dashboards dashboards
RUN pip install --no-cache-dir . && useradd --create-home linli
USER linli
EXPOSE 8000
CMD ["linli", "serve"]
