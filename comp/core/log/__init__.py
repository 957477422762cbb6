"""The log component: standard logging, level from config, changed live."""
