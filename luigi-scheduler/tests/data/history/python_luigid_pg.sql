CREATE SCHEMA luigi_py_history;
CREATE TABLE luigi_py_history.task_events (
    id integer NOT NULL,
    task_id integer,
    event_name character varying(20),
    ts timestamp without time zone NOT NULL
);
CREATE SEQUENCE luigi_py_history.task_events_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE luigi_py_history.task_events_id_seq OWNED BY luigi_py_history.task_events.id;
CREATE TABLE luigi_py_history.task_parameters (
    task_id integer NOT NULL,
    name character varying(128) NOT NULL,
    value text
);
CREATE TABLE luigi_py_history.tasks (
    id integer NOT NULL,
    task_id character varying(200),
    name character varying(128),
    host character varying(128)
);
CREATE SEQUENCE luigi_py_history.tasks_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE luigi_py_history.tasks_id_seq OWNED BY luigi_py_history.tasks.id;
ALTER TABLE ONLY luigi_py_history.task_events ALTER COLUMN id SET DEFAULT nextval('luigi_py_history.task_events_id_seq'::regclass);
ALTER TABLE ONLY luigi_py_history.tasks ALTER COLUMN id SET DEFAULT nextval('luigi_py_history.tasks_id_seq'::regclass);
INSERT INTO luigi_py_history.task_events VALUES (1, 1, 'PENDING', '2026-11-21 07:01:24.491722');
INSERT INTO luigi_py_history.task_events VALUES (2, 2, 'PENDING', '2026-11-21 07:01:24.521571');
INSERT INTO luigi_py_history.task_events VALUES (3, 3, 'PENDING', '2026-11-21 07:01:24.534004');
INSERT INTO luigi_py_history.task_events VALUES (4, 4, 'PENDING', '2026-11-21 07:01:24.550242');
INSERT INTO luigi_py_history.task_events VALUES (5, 4, 'RUNNING', '2026-11-21 07:01:24.578483');
INSERT INTO luigi_py_history.task_events VALUES (6, 4, 'DONE', '2026-11-21 07:01:24.621427');
INSERT INTO luigi_py_history.task_events VALUES (7, 3, 'RUNNING', '2026-11-21 07:01:24.645806');
INSERT INTO luigi_py_history.task_events VALUES (8, 3, 'DONE', '2026-11-21 07:01:24.68214');
INSERT INTO luigi_py_history.task_events VALUES (9, 2, 'RUNNING', '2026-11-21 07:01:24.702372');
INSERT INTO luigi_py_history.task_events VALUES (10, 2, 'FAILED', '2026-11-21 07:01:24.733963');
INSERT INTO luigi_py_history.task_events VALUES (11, 1, 'PENDING', '2026-11-21 07:01:25.238511');
INSERT INTO luigi_py_history.task_events VALUES (12, 2, 'PENDING', '2026-11-21 07:01:25.305563');
INSERT INTO luigi_py_history.task_events VALUES (13, 2, 'RUNNING', '2026-11-21 07:01:25.341902');
INSERT INTO luigi_py_history.task_events VALUES (14, 2, 'FAILED', '2026-11-21 07:01:25.382473');
INSERT INTO luigi_py_history.task_events VALUES (15, 5, 'PENDING', '2026-11-21 07:01:27.102854');
INSERT INTO luigi_py_history.task_events VALUES (16, 6, 'PENDING', '2026-11-21 07:01:27.168419');
INSERT INTO luigi_py_history.task_events VALUES (17, 6, 'RUNNING', '2026-11-21 07:01:27.225355');
INSERT INTO luigi_py_history.task_events VALUES (18, 6, 'FAILED', '2026-11-21 07:01:27.276679');
INSERT INTO luigi_py_history.task_parameters VALUES (2, 'label', '<script>alert(1)</script>');
INSERT INTO luigi_py_history.task_parameters VALUES (3, 'n', '2');
INSERT INTO luigi_py_history.task_parameters VALUES (3, 'note', 'insignificant');
INSERT INTO luigi_py_history.task_parameters VALUES (4, 'n', '1');
INSERT INTO luigi_py_history.task_parameters VALUES (4, 'note', 'insignificant');
INSERT INTO luigi_py_history.task_parameters VALUES (6, 'label', '<script>alert(1)</script>');
INSERT INTO luigi_py_history.tasks VALUES (1, 'HistoryRoot__99914b932b', 'HistoryRoot', NULL);
INSERT INTO luigi_py_history.tasks VALUES (4, 'HistoryLeaf_1_f4fe3360f0', 'HistoryLeaf', 'vm');
INSERT INTO luigi_py_history.tasks VALUES (3, 'HistoryLeaf_2_fbe666d9fe', 'HistoryLeaf', 'vm');
INSERT INTO luigi_py_history.tasks VALUES (2, 'HistoryFails__script_alert_1__4ccbc7d262', 'HistoryFails', 'vm');
INSERT INTO luigi_py_history.tasks VALUES (5, 'HistoryRoot__99914b932b', 'HistoryRoot', NULL);
INSERT INTO luigi_py_history.tasks VALUES (6, 'HistoryFails__script_alert_1__4ccbc7d262', 'HistoryFails', 'vm');
SELECT pg_catalog.setval('luigi_py_history.task_events_id_seq', 18, true);
SELECT pg_catalog.setval('luigi_py_history.tasks_id_seq', 6, true);
ALTER TABLE ONLY luigi_py_history.task_events
    ADD CONSTRAINT task_events_pkey PRIMARY KEY (id);
ALTER TABLE ONLY luigi_py_history.task_parameters
    ADD CONSTRAINT task_parameters_pkey PRIMARY KEY (task_id, name);
ALTER TABLE ONLY luigi_py_history.tasks
    ADD CONSTRAINT tasks_pkey PRIMARY KEY (id);
CREATE INDEX ix_task_events_task_id ON luigi_py_history.task_events USING btree (task_id);
CREATE INDEX ix_task_events_ts ON luigi_py_history.task_events USING btree (ts);
CREATE INDEX ix_tasks_name ON luigi_py_history.tasks USING btree (name);
CREATE INDEX ix_tasks_task_id ON luigi_py_history.tasks USING btree (task_id);
ALTER TABLE ONLY luigi_py_history.task_events
    ADD CONSTRAINT task_events_task_id_fkey FOREIGN KEY (task_id) REFERENCES luigi_py_history.tasks(id);
ALTER TABLE ONLY luigi_py_history.task_parameters
    ADD CONSTRAINT task_parameters_task_id_fkey FOREIGN KEY (task_id) REFERENCES luigi_py_history.tasks(id);
