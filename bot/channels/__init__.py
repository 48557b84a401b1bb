"""Input channels of the project (loaded by Rasa from ``credentials.yml``; Python 3.10).

Importing the package inside Rasa re-keys every channel's conversations by channel and
attaches identity proofs to messages (:mod:`channels.keys`), before Rasa registers any
channel. The services env imports its pure modules for tests, without Rasa.
"""

import importlib.util

if importlib.util.find_spec("rasa") is not None:
    from channels.keys import install as _install_keys

    _install_keys()
