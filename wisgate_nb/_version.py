"""The version of wisgate_nb (one place: the package, the User-Agent and %wisgate_doctor read it)."""

__version__ = "0.1.0"
