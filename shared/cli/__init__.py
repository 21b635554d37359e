"""The admin command line, ``python -m shared.cli``: one module per command group, each with
``add_parser`` (its arguments) and ``run`` (what it does); ``main`` assembles them."""
