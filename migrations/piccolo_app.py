"""The single Piccolo app of tiaojie; its migrations are the files beside this one."""

import os

from piccolo.conf.apps import AppConfig

APP_CONFIG = AppConfig(
    app_name="tiaojie",
    migrations_folder_path=os.path.dirname(os.path.abspath(__file__)),
    table_classes=[],
    migration_dependencies=[],
    commands=[],
)
