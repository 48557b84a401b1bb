"""Custom actions, run by the rasa-sdk action server in the services env.

The action server registers every ``Action`` subclass found in this package.
"""
