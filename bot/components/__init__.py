"""Custom Rasa NLU components, loaded by Rasa in the bot env (Python 3.10, Rasa's own pins)."""
