"""The ASGI application (the package's views are async)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.opendata.sta_server.settings")
application = get_asgi_application()
