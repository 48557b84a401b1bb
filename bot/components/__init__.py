"""Custom Rasa NLU components, loaded by Rasa in the bot env (Python 3.10, Rasa's own pins).

Importing the package also applies ``rasa_speedups`` and ``action_outage`` (Rasa imports it
with the pipeline, in both ``rasa train`` and ``rasa run``).
"""

from components.action_outage import install as _install_outage_notice
from components.rasa_speedups import install as _install_speedups

_install_speedups()
_install_outage_notice()
