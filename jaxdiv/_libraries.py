"""Which other JAX library a distribution object comes from (distrax, TFP, NumPyro).

Shared by the converters of `jaxdiv.expfam` and `jaxdiv.mixture`. An object is
recognised by the module its class comes from, so none of those libraries is
ever imported here.
"""

from __future__ import annotations

#: The libraries whose objects are converted, by the top-level package of their module.
#: TensorFlow Probability counts only through its JAX substrate.
LIBRARY_MODULES = {
    "distrax": "distrax",
    "tensorflow_probability": "tensorflow_probability.substrates.jax",
    "numpyro": "numpyro",
}

LIBRARY_NAMES = {
    "distrax": "distrax",
    "tensorflow_probability": "TensorFlow Probability (JAX substrate)",
    "numpyro": "NumPyro",
}


def library_of(d: object, *, fn: str) -> str | None:
    """The library (a key of `LIBRARY_MODULES`) whose class `d` is an instance of, or None.

    A TensorFlow Probability object of another substrate (TensorFlow, NumPy)
    gives a TypeError naming `fn`: its parameters are not JAX arrays.
    """
    module = type(d).__module__ or ""
    root = module.partition(".")[0]
    if root not in LIBRARY_MODULES:
        return None
    if not module.startswith(LIBRARY_MODULES[root]):
        raise TypeError(
            f"{fn}: {type(d).__name__} comes from {module}; only TensorFlow Probability's "
            "JAX substrate (tensorflow_probability.substrates.jax) is supported."
        )
    return root


def is_foreign(d: object, *, fn: str) -> bool:
    """Whether `d` is a distribution object of distrax, TFP's JAX substrate or NumPyro."""
    return library_of(d, fn=fn) is not None
