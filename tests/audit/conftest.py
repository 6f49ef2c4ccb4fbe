from tests.cli.support import migrated_sqlite_template, sqlite_data_dir  # noqa: F401
