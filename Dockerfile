# One image for web, workers and beat; the command differs per service.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VAR_DIR=/app/var
WORKDIR /app
# The pinned dependencies first, in their own layer; torch's CPU build from its own index.
COPY requirements/constraints.txt requirements/constraints.txt
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu \
        -r requirements/constraints.txt
COPY . .
RUN pip install --no-cache-dir --no-deps . \
    && DEBUG=1 python manage.py collectstatic --no-input \
    && useradd --create-home tracker && mkdir -p var && chown -R tracker var
USER tracker
EXPOSE 8000
CMD ["gunicorn", "tracker.wsgi:application"]
