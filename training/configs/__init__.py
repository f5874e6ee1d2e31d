"""Training configs (YAML files read by ``training.config.load_train_config``)."""
