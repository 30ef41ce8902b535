"""Model adapters behind one Protocol (see :mod:`jinavdr.models.base`) and their registry."""
