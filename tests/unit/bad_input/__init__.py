"""Bad input against every action parameter and config option (see cases.py)."""
