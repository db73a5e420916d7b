import CrescentCore

/// The shapes the API reads and answers (`components.schemas`). Response objects allow
/// fields beyond the listed ones, so adding a field to an answer does not break clients.
extension OpenAPI {
    static let states = JobState.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
    static let outcomes = ["succeeded", "failed", "snoozed", "discarded", "aborted", "released", "conflict"]
        .map { "\"\($0)\"" }.joined(separator: ", ")

    static let schemas: JSONValue = schema(#"""
        {
          "Error": {
            "type": "object", "required": ["error"],
            "properties": {"error": {"type": "string", "description": "One sentence saying what is wrong."}}
          },
          "Health": {
            "type": "object", "required": ["status"],
            "properties": {"status": {"const": "ok"}}
          },
          "EnqueueRequest": {
            "type": "object", "required": ["task"], "additionalProperties": false,
            "not": {"required": ["delay", "at"], "properties": {"delay": {"not": {"type": "null"}}, "at": {"not": {"type": "null"}}}},
            "properties": {
              "task": {"type": "string", "minLength": 1, "description": "A loaded task's name.", "examples": ["mail/welcome"]},
              "args": {"type": ["object", "array", "null"], "description": "The job's args (at most 64 KB as JSON); {} when absent or null."},
              "queue": {"type": ["string", "null"], "pattern": "\\S", "description": "Default: the task's queue."},
              "priority": {"type": ["integer", "null"], "minimum": -1000000000, "maximum": 1000000000, "description": "Default: the task's priority."},
              "delay": {
                "description": "Due this long from now: a duration such as \"30s\", \"5m\", \"1h30m\", or a number of seconds. Not with `at`.",
                "oneOf": [
                  {"type": "string", "pattern": "^[ \\t]*([0-9]{1,5}(\\.[0-9]{1,3})?(ms|s|m|h|d|w)){1,4}[ \\t]*$"},
                  {"type": "number", "minimum": 0, "maximum": 31536000000},
                  {"type": "null"}
                ]
              },
              "at": {
                "description": "Due at this time: ISO 8601 (as this pattern: UTC offsets up to 18:00, at most 9 fraction digits) or epoch seconds, within the years 1 to 9999. Not with `delay`.",
                "oneOf": [
                  {"type": "string", "format": "date-time", "pattern": "^(?!0000|0001|9999)\\d{4}-\\d{2}-\\d{2}T([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(\\.\\d{1,9})?(Z|[+-](0\\d|1[0-7]):[0-5]\\d|[+-]18:00)$"},
                  {"type": "number", "minimum": -62135596800, "maximum": 253402300799},
                  {"type": "null"}
                ]
              }
            }
          },
          "EnqueueResult": {
            "type": "object", "required": ["id", "duplicate"],
            "properties": {
              "id": {"type": "integer", "minimum": 1, "description": "The new job, or the active job holding the unique key."},
              "duplicate": {"type": "boolean"}
            }
          },
          "Time": {"type": "string", "format": "date-time", "description": "UTC, with milliseconds."},
          "Job": {
            "type": "object",
            "required": ["id", "task", "queue", "priority", "state", "args", "attempt", "max_attempts", "result", "error",
                         "unique_key", "scheduled_for", "run_at", "created_at", "finished_at"],
            "properties": {
              "id": {"type": "integer", "minimum": 1},
              "task": {"type": "string"},
              "queue": {"type": "string"},
              "priority": {"type": "integer"},
              "state": {"enum": [\#(states)]},
              "args": {"description": "The args as given (object or array)."},
              "attempt": {"type": "integer", "minimum": 0},
              "max_attempts": {"type": "integer", "minimum": 1},
              "result": {"description": "What the handler returned, once succeeded; null before."},
              "error": {"type": ["string", "null"], "description": "The last attempt's error."},
              "unique_key": {"type": ["string", "null"]},
              "scheduled_for": {"oneOf": [{"$ref": "#/components/schemas/Time"}, {"type": "null"}], "description": "The schedule occurrence that made this job."},
              "run_at": {"$ref": "#/components/schemas/Time"},
              "created_at": {"$ref": "#/components/schemas/Time"},
              "finished_at": {"oneOf": [{"$ref": "#/components/schemas/Time"}, {"type": "null"}]},
              "progress": {
                "description": "The last progress the handler reported with job:progress, if any.",
                "oneOf": [
                  {"type": "object", "properties": {
                    "done": {"type": "number"}, "total": {"type": ["number", "null"]},
                    "note": {"type": ["string", "null"]}, "at": {"$ref": "#/components/schemas/Time"}}},
                  {"type": "null"}
                ]
              }
            }
          },
          "Run": {
            "type": "object", "required": ["attempt", "started_at", "finished_at", "outcome", "error", "traceback", "worker"],
            "properties": {
              "attempt": {"type": "integer"},
              "started_at": {"$ref": "#/components/schemas/Time"},
              "finished_at": {"oneOf": [{"$ref": "#/components/schemas/Time"}, {"type": "null"}]},
              "outcome": {"enum": [\#(outcomes), null], "description": "null while running."},
              "error": {"type": ["string", "null"]},
              "traceback": {"type": ["string", "null"]},
              "worker": {"type": "string", "description": "The process that ran it (host:pid)."}
            }
          },
          "JobWithRuns": {
            "allOf": [
              {"$ref": "#/components/schemas/Job"},
              {"type": "object", "required": ["runs"], "properties": {"runs": {"type": "array", "items": {"$ref": "#/components/schemas/Run"}}}}
            ]
          },
          "Task": {
            "type": "object",
            "required": ["name", "file", "queue", "priority", "schedule", "timezone", "missed", "next_fire", "unique", "ttl", "expires", "retry"],
            "properties": {
              "name": {"type": "string"},
              "file": {"type": "string"},
              "queue": {"type": "string"},
              "priority": {"type": "integer"},
              "schedule": {"type": ["string", "null"]},
              "timezone": {"type": "string"},
              "missed": {"enum": ["skip", "once", "all"]},
              "next_fire": {"oneOf": [{"$ref": "#/components/schemas/Time"}, {"type": "null"}]},
              "unique": {"type": ["string", "null"]},
              "ttl": {"type": "string", "description": "A duration such as \"30m\"."},
              "expires": {"type": ["string", "null"]},
              "retry": {
                "type": "object", "required": ["attempts", "backoff", "delay", "max_delay", "jitter"],
                "properties": {
                  "attempts": {"type": "integer"}, "backoff": {"enum": ["exponential", "fixed", "linear"]},
                  "delay": {"type": "string"}, "max_delay": {"type": "string"}, "jitter": {"type": "number"}
                }
              }
            }
          },
          "LoadError": {
            "type": "object", "required": ["file", "line", "error"],
            "properties": {"file": {"type": "string"}, "line": {"type": ["integer", "null"]}, "error": {"type": "string"}}
          },
          "Tasks": {
            "type": "object", "required": ["version", "loaded_at", "tasks", "errors"],
            "properties": {
              "version": {"type": "integer", "description": "Goes up with every reload."},
              "loaded_at": {"$ref": "#/components/schemas/Time"},
              "tasks": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}},
              "errors": {"type": "array", "items": {"$ref": "#/components/schemas/LoadError"},
                         "description": "Task files that failed to load; their tasks keep running their last good version."}
            }
          },
          "Counts": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
          "Process": {
            "type": "object", "required": ["id", "host", "pid", "queues", "started_at", "heartbeat_at", "busy", "heartbeat_age_s", "lost",
                         "capacity", "version", "rss_bytes", "lost_at", "rescued_count", "rescued_jobs"],
            "properties": {
              "id": {"type": "string"}, "host": {"type": "string"}, "pid": {"type": "integer"},
              "queues": {"type": "array", "items": {"type": "string"}, "description": "Empty: all queues."},
              "started_at": {"$ref": "#/components/schemas/Time"}, "heartbeat_at": {"$ref": "#/components/schemas/Time"},
              "busy": {"type": "integer", "minimum": 0}, "heartbeat_age_s": {"type": "number"},
              "capacity": {"type": "integer", "minimum": 0, "description": "Job slots: its queues' concurrency summed, capped by max_jobs."},
              "version": {"type": "string", "description": "The Crescent version it runs."},
              "rss_bytes": {"type": ["integer", "null"], "minimum": 0, "description": "Resident memory at its last heartbeat; null when unknown."},
              "tasks_version": {"type": "string"}, "quiet": {"type": "boolean"}, "stop_requested": {"type": "boolean"},
              "lost": {"type": "boolean", "description": "No heartbeat within the lease, or rescued by another process."},
              "lost_at": {"oneOf": [{"$ref": "#/components/schemas/Time"}, {"type": "null"}],
                          "description": "When another process rescued its jobs; listed for an hour after."},
              "rescued_count": {"type": "integer", "minimum": 0},
              "rescued_jobs": {"type": "array", "items": {"type": "integer"}, "description": "The ids of the jobs rescued from it (the first 100)."}
            }
          },
          "Finished": {
            "type": "object", "required": ["succeeded", "failed"],
            "properties": {"succeeded": {"type": "integer", "minimum": 0}, "failed": {"type": "integer", "minimum": 0}}
          },
          "Stats": {
            "type": "object",
            "required": ["store", "queues", "processes", "next_fires", "finished", "oldest_queued_age_s", "waiting_for_missing_task"],
            "properties": {
              "store": {"type": "string", "description": "The store in use, never with its password."},
              "queues": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Counts"},
                         "description": "Queue → state → number of jobs."},
              "processes": {"type": "array", "items": {"$ref": "#/components/schemas/Process"}},
              "next_fires": {"type": "array", "items": {
                "type": "object", "required": ["task", "at"],
                "properties": {"task": {"type": "string"}, "at": {"$ref": "#/components/schemas/Time"}}}},
              "finished": {
                "type": "object", "required": ["last_minute", "last_hour"],
                "properties": {"last_minute": {"$ref": "#/components/schemas/Finished"}, "last_hour": {"$ref": "#/components/schemas/Finished"}}
              },
              "oldest_queued_age_s": {"type": ["number", "null"]},
              "waiting_for_missing_task": {"$ref": "#/components/schemas/Counts", "description": "Task name → queued jobs of a task no file defines."}
            }
          }
        }
        """#)
}
