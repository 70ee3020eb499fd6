"""Entry point for gunicorn and `flask --app wsgi …`."""

from lumipay import create_app

app = create_app()
