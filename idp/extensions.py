"""The Flask extension objects, defined once so any layer can import them without importing the app
package: CSRF protection and Babel, bound to each application by :func:`idp.create_app` and
:func:`idp.i18n.init_app`. (The rate limiter is not here: Flask-Limiter keeps its store on the object, so
each application builds its own in :func:`idp.limits.init_app`.)"""
from __future__ import annotations

from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
babel = Babel()
