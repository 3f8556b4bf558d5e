"""Airflow DAG files, one per DAG; the folder is also a package so DAGs share dag_defaults."""
