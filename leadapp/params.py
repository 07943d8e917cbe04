"""Reading query parameters the way every page does."""


def positive_int(value, *, default):
    """``value`` as a whole number above zero (a page number, an id), else ``default``."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default
