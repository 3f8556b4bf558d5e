-- The three schemas of the warehouse and the pgvector extension.
--   catalog:   what can be listened to and who listens (written by loaders, read by all)
--   analytics: counters and statistics derived from the listening log (written by DAGs)
--   model:     trained vectors and model versions (written by training DAGs)
create extension if not exists vector;
create schema if not exists catalog;
create schema if not exists analytics;
create schema if not exists model;
