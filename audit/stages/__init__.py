"""The built-in stages, one file each. Importing this package registers them."""

from audit.stages import (  # noqa: F401
    aggregate,
    explain,
    gate,
    load_dataset,
    load_model,
    predict,
    report,
    score,
)
