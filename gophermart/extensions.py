"""Bare extension instances, bound to an app in create_app()."""

from typing import TYPE_CHECKING

from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
if TYPE_CHECKING:  # db.Model is made at run time; to a type checker it is the base it extends
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
compress = Compress()
# Limits are declared on the views that need them (login, register); none by default.
limiter = Limiter(key_func=get_remote_address, headers_enabled=True)
