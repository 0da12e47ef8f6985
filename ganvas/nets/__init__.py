"""Generator/discriminator pairs, registered by name.

Adding a model: copy ``template.py`` to a new file, fill it in, and add one line to `MODELS` in
ganvas/registry.py. The CLI's
``--model NAME`` and every checkpoint find the class through this table.
"""

from ganvas import registry

MODELS = registry.MODELS   # the table lives in ganvas/registry.py (the one catalogue)
