"""SQL building blocks shared by the services."""

from sqlalchemy.dialects import postgresql, sqlite

from gophermart.extensions import db


def insert_or_ignore(model, **values):
    """`INSERT … ON CONFLICT DO NOTHING RETURNING id`: the winner of a race gets the id back."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model).values(**values).on_conflict_do_nothing().returning(model.id)
