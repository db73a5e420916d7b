// `<schema>.enqueue(...)`, a SQL function an application calls inside its own
// transaction, from any language, to enqueue a job that exists only if that transaction
// commits.
extension PostgresJobStore {
    /// The function reads the task's defaults (queue, priority, attempts, uniqueness, expiry)
    /// from the definitions the runners publish in `kv` (`crescent:runner` / `registry`, see
    /// `TaskRegistry.persist`), so it enqueues exactly as `crescent enqueue` does:
    ///
    /// - args are stored as Crescent's canonical JSON (`canonical_json`: keys sorted by code
    ///   point, no spaces, integers without a fraction), so `unique = "args"` keys match
    ///   those of jobs enqueued by the CLI, the HTTP API or `queue.push`;
    /// - a unique duplicate answers the holding job's id (an active one, or a recent one
    ///   within the task's `period`), as the other paths do; races with other transactions
    ///   are settled by the same partial unique index;
    /// - the NOTIFY that wakes idle runners is sent when the caller's transaction commits,
    ///   and not at all if it rolls back.
    ///
    /// A task no runner has published, args that are not an object, an empty queue name and
    /// a task whose unique key is a Lua function (which SQL cannot compute) are refused with
    /// an error naming the problem (SQLSTATE 22023). `%S` is the quoted schema, `%N` its bare
    /// name (letters, digits and `_` only, so it may stand inside a string literal).
    static let schemaEnqueueFunction = #"""
        CREATE FUNCTION %S.canonical_json(v jsonb) RETURNS text
        LANGUAGE plpgsql IMMUTABLE STRICT SET extra_float_digits = 1 AS $fn$
        DECLARE
            out text;
            k text;
            e jsonb;
            raw text;
            c text;
            n numeric;
        BEGIN
            CASE jsonb_typeof(v)
            WHEN 'object' THEN
                out := '';
                FOR k, e IN SELECT j.key, j.value FROM jsonb_each(v) AS j ORDER BY j.key COLLATE "C" LOOP
                    out := out || CASE WHEN out = '' THEN '' ELSE ',' END
                        || %S.canonical_json(to_jsonb(k)) || ':' || %S.canonical_json(e);
                END LOOP;
                RETURN '{' || out || '}';
            WHEN 'array' THEN
                out := '';
                FOR e IN SELECT a.value FROM jsonb_array_elements(v) WITH ORDINALITY AS a(value, i) ORDER BY a.i LOOP
                    out := out || CASE WHEN out = '' THEN '' ELSE ',' END || %S.canonical_json(e);
                END LOOP;
                RETURN '[' || out || ']';
            WHEN 'string' THEN
                raw := v #>> '{}';
                -- PostgreSQL escapes as Crescent does, except backspace and form feed.
                IF strpos(raw, chr(8)) = 0 AND strpos(raw, chr(12)) = 0 THEN RETURN v::text; END IF;
                out := '"';
                FOREACH c IN ARRAY regexp_split_to_array(raw, '') LOOP
                    out := out || CASE c WHEN chr(8) THEN '\u0008' WHEN chr(12) THEN '\u000c'
                                         ELSE substr(to_jsonb(c)::text, 2, length(to_jsonb(c)::text) - 2) END;
                END LOOP;
                RETURN out || '"';
            WHEN 'number' THEN
                n := (v #>> '{}')::numeric;
                IF n = trunc(n) AND n BETWEEN -9223372036854775808 AND 9223372036854775807 THEN
                    RETURN trunc(n)::bigint::text;
                END IF;
                BEGIN
                    RETURN n::float8::text;
                EXCEPTION WHEN numeric_value_out_of_range THEN
                    RETURN 'null';  -- beyond a double, as Crescent's own encoder writes it
                END;
            ELSE
                RETURN v::text;  -- true, false, null
            END CASE;
        END
        $fn$;

        CREATE FUNCTION %S.enqueue(task text, args jsonb DEFAULT '{}', queue text DEFAULT NULL,
                                   priority integer DEFAULT NULL, run_at timestamptz DEFAULT NULL)
            RETURNS bigint
        LANGUAGE plpgsql VOLATILE AS $fn$
        DECLARE
            def jsonb;
            now_s double precision := extract(epoch FROM clock_timestamp());
            at_s double precision;
            q text;
            body text;
            ukey text;
            uperiod double precision;
            found_id bigint;
            new_id bigint;
        BEGIN
            IF enqueue.task IS NULL THEN
                RAISE EXCEPTION 'crescent enqueue: task must not be null' USING ERRCODE = '22023';
            END IF;
            IF enqueue.args IS NULL THEN enqueue.args := '{}'; END IF;
            IF jsonb_typeof(enqueue.args) <> 'object' THEN
                RAISE EXCEPTION 'crescent enqueue: args must be a JSON object, not a JSON %', jsonb_typeof(enqueue.args)
                    USING ERRCODE = '22023';
            END IF;
            IF enqueue.queue IS NOT NULL AND btrim(enqueue.queue) = '' THEN
                RAISE EXCEPTION 'crescent enqueue: queue name cannot be empty' USING ERRCODE = '22023';
            END IF;
            SELECT t INTO def
            FROM %S.kv, jsonb_array_elements(kv.value::jsonb -> 'tasks') AS t
            WHERE kv.task = 'crescent:runner' AND kv.key = 'registry' AND t ->> 'name' = enqueue.task;
            IF def IS NULL THEN
                RAISE EXCEPTION 'crescent enqueue: unknown task "%"', enqueue.task USING ERRCODE = '22023',
                    HINT = 'The task must be loaded by a crescent run process of this database (it publishes its tasks when it starts and on every reload).';
            END IF;

            q := COALESCE(enqueue.queue, def ->> 'queue', 'default');
            at_s := COALESCE(extract(epoch FROM enqueue.run_at), now_s);
            body := %S.canonical_json(enqueue.args);
            CASE def -> 'unique' ->> 'by'
            WHEN 'task' THEN ukey := enqueue.task;
            WHEN 'args' THEN ukey := enqueue.task || ':' || body;
            WHEN 'function' THEN
                RAISE EXCEPTION 'crescent enqueue: task "%" computes its unique key with a Lua function, which SQL cannot run', enqueue.task
                    USING ERRCODE = '22023', HINT = 'Enqueue this task with crescent enqueue or POST /api/jobs.';
            ELSE ukey := NULL;
            END CASE;
            uperiod := CASE WHEN ukey IS NULL THEN NULL ELSE (def -> 'unique' ->> 'period')::double precision END;

            IF ukey IS NOT NULL THEN
                SELECT j.id INTO found_id FROM %S.jobs j
                WHERE j.unique_key = ukey AND j.state IN ('scheduled', 'queued', 'running', 'retrying');
                IF found_id IS NULL AND uperiod > 0 THEN
                    SELECT j.id INTO found_id FROM %S.jobs j
                    WHERE j.unique_key = ukey AND j.finished_at >= now_s - uperiod
                    ORDER BY j.finished_at DESC LIMIT 1;
                END IF;
                IF found_id IS NOT NULL THEN RETURN found_id; END IF;
            END IF;

            INSERT INTO %S.jobs (task, queue, priority, state, args, attempt, max_attempts, unique_key,
                                 unique_period, run_at, created_at, expires_at)
            VALUES (enqueue.task, q, COALESCE(enqueue.priority, (def ->> 'priority')::integer, 0),
                    CASE WHEN at_s > now_s THEN 'scheduled' ELSE 'queued' END, body, 0,
                    COALESCE((def -> 'retry' ->> 'attempts')::integer, 5), ukey, uperiod, at_s, now_s,
                    at_s + (def ->> 'expires')::double precision)
            ON CONFLICT DO NOTHING
            RETURNING id INTO new_id;
            IF new_id IS NULL THEN
                -- Another transaction holds the key now (it committed while we waited).
                SELECT j.id INTO found_id FROM %S.jobs j
                WHERE j.unique_key = ukey AND j.state IN ('scheduled', 'queued', 'running', 'retrying');
                RETURN found_id;
            END IF;
            PERFORM pg_notify('crescent_wake_%N', left(q, 200));
            RETURN new_id;
        END
        $fn$;

        COMMENT ON FUNCTION %S.enqueue(text, jsonb, text, integer, timestamptz) IS
            'Enqueues a Crescent job inside the caller''s transaction; returns its id (a unique duplicate returns the existing job''s id).';
        """#
}
