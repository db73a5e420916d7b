// The dashboard's Mustache templates and its one stylesheet, as string literals (no
// resource bundle to find at run time). `{{x}}` escapes HTML; `{{{x}}}` is only used for
// markup built by Crescent itself (the page body, the SVG chart, the stylesheet).

enum DashboardTemplates {
    static let all: [String: String] = [
        "layout": layout, "overview": overview, "queues": queues, "tasks": tasks, "jobs": jobs,
        "job": job, "dead": dead, "processes": processes, "error": error,
        "jobRows": jobRows, "actions": actions, "bulkList": bulkList,
    ]

    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="color-scheme" content="light dark">
        <title>{{title}} · Crescent</title>
        <style>{{{css}}}</style>
        </head>
        <body>
        <header><div class="wrap bar">
        <a class="brand" href="/"><span class="moon">☾</span> Crescent</a>
        <nav id="nav" data-live>{{#nav}}<a href="{{href}}"{{#on}} class="on"{{/on}}>{{label}}{{#badge}} <span class="count">{{badge}}</span>{{/badge}}</a>{{/nav}}</nav>
        </div></header>
        <main class="wrap">
        {{#notice}}<div class="notice">{{notice}}</div>{{/notice}}
        <div id="content" data-live>
        {{{content}}}
        </div>
        </main>
        <footer id="footer" class="wrap muted" data-live>Crescent · {{host}} · rendered {{now}}<span class="js-only"> · refreshed every {{refresh}} s</span></footer>
        <script src="/dashboard.js" defer></script>
        </body>
        </html>
        """

    static let overview = """
        <h1>Overview</h1>
        <div class="cards">
        {{#states}}<a class="card state-{{name}}" href="/jobs?state={{name}}"><div class="l">{{name}}</div><div class="n">{{count}}</div></a>{{/states}}
        </div>
        <div class="cards stats">
        <div class="card"><div class="l">Last minute</div><div class="n">{{minuteSucceeded}}<span class="sub ok"> ok</span> {{minuteFailed}}<span class="sub bad"> failed</span></div></div>
        <div class="card"><div class="l">Last hour</div><div class="n">{{hourSucceeded}}<span class="sub ok"> ok</span> {{hourFailed}}<span class="sub bad"> failed</span></div></div>
        <div class="card"><div class="l">Oldest queued</div><div class="n">{{oldestQueued}}</div></div>
        <a class="card" href="/processes"><div class="l">Processes</div><div class="n">{{processCount}}<span class="sub"> · {{busy}} busy</span></div></a>
        </div>
        <h2>Runs finished per minute, last hour</h2>
        <div class="panel chart">{{{chart}}}</div>
        <div class="cols">
        <div>
        <h2>Queues</h2>
        {{#hasQueues}}
        <table>
        <thead><tr><th>Queue</th>{{#stateNames}}<th class="num">{{.}}</th>{{/stateNames}}</tr></thead>
        <tbody>
        {{#queues}}<tr><td><a href="/jobs?queue={{urlName}}">{{name}}</a></td>{{#cells}}<td class="num{{#zero}} zero{{/zero}}">{{#link}}<a href="{{link}}">{{count}}</a>{{/link}}{{^link}}{{count}}{{/link}}</td>{{/cells}}</tr>{{/queues}}
        </tbody>
        </table>
        {{/hasQueues}}
        {{^hasQueues}}<p class="empty">No jobs yet.</p>{{/hasQueues}}
        </div>
        <div>
        <h2>Next scheduled fires</h2>
        {{#hasFires}}
        <table>
        <thead><tr><th>Task</th><th>At</th></tr></thead>
        <tbody>{{#fires}}<tr><td><a href="/jobs?task={{urlTask}}">{{task}}</a></td><td><span title="{{at}}">{{relative}}</span></td></tr>{{/fires}}</tbody>
        </table>
        {{/hasFires}}
        {{^hasFires}}<p class="empty">No scheduled tasks.</p>{{/hasFires}}
        {{#hasErrors}}<p class="error-box"><a href="/tasks">{{errorText}}</a></p>{{/hasErrors}}
        </div>
        </div>
        """

    static let queues = """
        <h1>Queues</h1>
        <p class="muted">In priority order: earlier queues are served first.</p>
        {{#hasQueues}}
        <table>
        <thead><tr><th>#</th><th>Queue</th><th class="num">Concurrency</th>{{#stateNames}}<th class="num">{{.}}</th>{{/stateNames}}<th>Oldest due</th><th></th></tr></thead>
        <tbody>
        {{#queues}}<tr><td class="muted">{{rank}}</td><td><a href="/jobs?queue={{urlName}}">{{name}}</a>{{^declared}} <span class="badge">undeclared</span>{{/declared}}</td><td class="num">{{concurrency}}</td>{{#cells}}<td class="num{{#zero}} zero{{/zero}}">{{#link}}<a href="{{link}}">{{count}}</a>{{/link}}{{^link}}{{count}}{{/link}}</td>{{/cells}}<td>{{#oldest}}<span title="{{oldestAt}}">{{oldest}}</span>{{/oldest}}{{^oldest}}<span class="muted">—</span>{{/oldest}}</td><td>{{#paused}}<span class="badge s-dead">paused</span><form method="post" action="/queues/{{urlName}}/resume" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="primary">Resume</button></form>{{/paused}}{{^paused}}<form method="post" action="/queues/{{urlName}}/pause" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Pause</button></form>{{/paused}}</td></tr>{{/queues}}
        </tbody>
        </table>
        {{/hasQueues}}
        {{^hasQueues}}<p class="empty">No queues.</p>{{/hasQueues}}
        """

    static let tasks = """
        <h1>Tasks</h1>
        <p class="muted">Version {{version}}, loaded {{loadedAt}}.</p>
        {{#hasErrors}}
        <h2>Load errors</h2>
        <div class="error-box spaced">
        {{#errors}}<div class="load-error"><code>{{location}}</code> {{message}}</div>{{/errors}}
        <p class="muted small">A task whose file fails to load keeps running its last good version.</p>
        </div>
        <h2>Tasks</h2>
        {{/hasErrors}}
        {{#hasTasks}}
        <table>
        <thead><tr><th>Task</th><th>Queue</th><th>Schedules</th><th>Unique</th><th>TTL</th><th>Retry</th></tr></thead>
        <tbody>
        {{#tasks}}<tr>
        <td><a href="/jobs?task={{urlName}}"><strong>{{name}}</strong></a><div class="muted small">{{file}}</div>{{#broken}}<div class="last-good"><span class="badge s-retrying">last good version</span> <span class="small">its file fails to load now: {{broken}}</span></div>{{/broken}}{{^hasSchedules}}<form method="post" action="/tasks/run" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}"><input type="hidden" name="task" value="{{name}}"><button type="submit">Run now</button></form>{{/hasSchedules}}</td>
        <td><a href="/jobs?queue={{urlQueue}}">{{queue}}</a>{{#showPriority}} <span class="muted small">prio {{priority}}</span>{{/showPriority}}</td>
        <td>{{#hasSchedules}}{{#disabled}}<div><strong>disabled</strong> <span class="muted small">(enabled = false)</span></div>{{/disabled}}<div class="muted small">{{#timezone}}{{timezone}} · {{/timezone}}missed: {{missed}}</div>{{/hasSchedules}}
        {{#schedules}}<div class="schedule">{{#label}}<strong>{{label}}</strong> {{/label}}<code>{{text}}</code>{{#args}} <code class="small">{{args}}</code>{{/args}}
        <div class="muted small">last fired {{#lastFired}}<span title="{{lastFiredAt}}">{{lastFired}}</span>{{/lastFired}}{{^lastFired}}never{{/lastFired}} · next {{#nextFire}}<span title="{{nextFireAt}}">{{nextFire}}</span>{{/nextFire}}{{^nextFire}}—{{/nextFire}}</div>
        {{#overdue}}<div class="small"><strong>{{overdue}}</strong></div>{{/overdue}}{{#catchUp}}<div class="small" title="caught up {{catchUpAt}}">missed: {{catchUp}}</div>{{/catchUp}}
        <form method="post" action="/tasks/run" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}"><input type="hidden" name="task" value="{{name}}"><input type="hidden" name="schedule" value="{{id}}"><button type="submit">Run now</button></form></div>{{/schedules}}
        {{^hasSchedules}}<span class="muted">—</span>{{/hasSchedules}}</td>
        <td>{{#unique}}{{unique}}{{/unique}}{{^unique}}<span class="muted">—</span>{{/unique}}</td>
        <td>{{ttl}}{{#expires}}<div class="muted small">expires {{expires}}</div>{{/expires}}</td>
        <td>{{retry}}</td>
        </tr>{{/tasks}}
        </tbody>
        </table>
        {{/hasTasks}}
        {{^hasTasks}}<p class="empty">No tasks are loaded.</p>{{/hasTasks}}
        """

    static let jobRows = """
        <table>
        <thead><tr><th></th><th class="num">ID</th><th>Task</th><th>Queue</th><th>State</th><th class="num">Attempt</th><th>Run at</th><th>Finished</th><th>Last error</th>{{#withActions}}<th></th>{{/withActions}}</tr></thead>
        <tbody>
        {{#jobs}}<tr>
        <td><input type="checkbox" name="id-{{id}}" value="on" form="bulk" aria-label="select job {{id}}"></td>
        <td class="num"><a href="/jobs/{{id}}">{{id}}</a></td>
        <td><a href="/jobs?task={{urlTask}}">{{task}}</a></td>
        <td><a href="/jobs?queue={{urlQueue}}">{{queue}}</a></td>
        <td><span class="badge s-{{state}}">{{state}}</span>{{#progress}} <progress max="100"{{#hasPercent}} value="{{percent}}"{{/hasPercent}} title="{{summary}}">{{summary}}</progress>{{/progress}}</td>
        <td class="num">{{attempt}}/{{maxAttempts}}</td>
        <td><span title="{{runAtFull}}">{{runAt}}</span></td>
        <td>{{#finishedAt}}<span title="{{finishedAtFull}}">{{finishedAt}}</span>{{/finishedAt}}{{^finishedAt}}<span class="muted">—</span>{{/finishedAt}}</td>
        <td class="err">{{#error}}<span title="{{error}}">{{errorShort}}</span>{{/error}}</td>
        {{#withActions}}<td class="actions">{{> actions}}</td>{{/withActions}}
        </tr>{{/jobs}}
        </tbody>
        </table>
        """

    static let actions = """
        {{#canRetry}}<form method="post" action="/jobs/{{id}}/retry" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}"><button type="submit"{{^withActions}} class="primary"{{/withActions}}>Retry</button></form>{{/canRetry}}
        {{#canCancel}}<form method="post" action="/jobs/{{id}}/cancel" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}"><button type="submit" class="danger">Cancel</button></form>{{/canCancel}}
        """

    /// A list of jobs with the bulk toolbar (ticked jobs; every job of the filtered state,
    /// with a typed confirmation) and the pager: the jobs and dead pages.
    static let bulkList = """
        <form id="bulk" method="post" action="/jobs/bulk" class="toolbar"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}">
        <label><input type="checkbox" name="confirm" value="yes" required> apply to the ticked jobs</label>
        <button type="submit" name="action" value="retry">Retry</button><button type="submit" name="action" value="run-now">Run now</button><button type="submit" name="action" value="cancel">Cancel</button><button type="submit" name="action" value="delete" class="danger">Delete</button>
        </form>
        {{#filterState}}<form method="post" action="/jobs/bulk" class="toolbar"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}"><input type="hidden" name="all" value="yes"><input type="hidden" name="state" value="{{filterState}}"><input type="hidden" name="action" value="delete">
        <input name="confirm_state" placeholder="type {{filterState}} to confirm" required> <button type="submit" class="danger">Delete all {{total}} {{filterState}} jobs</button>
        </form>{{/filterState}}
        {{> jobRows}}
        <div class="pager">
        <span class="muted">{{first}}–{{last}} of {{total}}</span>
        <span>{{#prev}}<a href="{{prev}}">← newer</a>{{/prev}}{{#next}} <a href="{{next}}">older →</a>{{/next}}</span>
        </div>
        """

    static let jobs = """
        <h1>Jobs</h1>
        <form method="get" action="/jobs" class="filters">
        <label>State<select name="state"><option value="">any</option>{{#stateOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/stateOptions}}</select></label>
        <label>Task<select name="task"><option value="">any</option>{{#taskOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/taskOptions}}</select></label>
        <label>Queue<select name="queue"><option value="">any</option>{{#queueOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/queueOptions}}</select></label>
        <label>Search<input type="search" name="q" value="{{search}}" placeholder="text in args or error"></label>
        <button type="submit">Filter</button>
        {{#filtered}}<a class="clear" href="/jobs">clear</a>{{/filtered}}
        </form>
        {{#hasJobs}}
        {{> bulkList}}
        {{/hasJobs}}
        {{^hasJobs}}<p class="empty">No jobs match.</p>{{/hasJobs}}
        """

    static let job = """
        <h1>Job {{id}} <span class="badge s-{{state}}">{{state}}</span></h1>
        <div class="toolbar">{{> actions}}</div>
        <dl class="kv">
        <dt>Task</dt><dd><a href="/jobs?task={{urlTask}}">{{task}}</a></dd>
        <dt>Queue</dt><dd><a href="/jobs?queue={{urlQueue}}">{{queue}}</a> · priority {{priority}}</dd>
        <dt>Attempt</dt><dd>{{attempt}} of {{maxAttempts}}</dd>
        <dt>Created</dt><dd>{{createdAt}}</dd>
        <dt>Run at</dt><dd>{{runAt}}</dd>
        {{#scheduledFor}}<dt>Scheduled for</dt><dd>{{scheduledFor}}</dd>{{/scheduledFor}}
        {{#finishedAt}}<dt>Finished</dt><dd>{{finishedAt}}</dd>{{/finishedAt}}
        {{#uniqueKey}}<dt>Unique key</dt><dd><code>{{uniqueKey}}</code></dd>{{/uniqueKey}}
        {{#progress}}<dt>Progress</dt><dd><progress max="100"{{#hasPercent}} value="{{percent}}"{{/hasPercent}}>{{summary}}</progress> {{summary}} <span class="muted" title="{{atFull}}">· reported {{at}}</span></dd>{{/progress}}
        </dl>
        {{#error}}<h2>Last error</h2><pre class="error">{{error}}</pre>{{/error}}
        <h2>Args</h2><pre>{{args}}</pre>
        {{#result}}<h2>Result</h2><pre>{{result}}</pre>{{/result}}
        <h2>Runs</h2>
        {{#hasRuns}}
        <table>
        <thead><tr><th class="num">Attempt</th><th>Started</th><th>Finished</th><th class="num">Took</th><th>Outcome</th><th>Worker</th></tr></thead>
        <tbody>
        {{#runs}}<tr>
        <td class="num">{{attempt}}</td><td>{{startedAt}}</td><td>{{#finishedAt}}{{finishedAt}}{{/finishedAt}}{{^finishedAt}}<span class="muted">running</span>{{/finishedAt}}</td>
        <td class="num">{{took}}</td><td>{{#outcome}}<span class="badge s-{{outcome}}">{{outcome}}</span>{{/outcome}}{{^outcome}}<span class="badge s-running">running</span>{{/outcome}}</td><td><code class="small">{{worker}}</code></td>
        </tr>
        {{#error}}<tr class="detail"><td></td><td colspan="5"><pre class="error">{{error}}</pre>{{#traceback}}<details{{#last}} open{{/last}}><summary>Traceback</summary><pre>{{traceback}}</pre></details>{{/traceback}}</td></tr>{{/error}}
        {{/runs}}
        </tbody>
        </table>
        {{/hasRuns}}
        {{^hasRuns}}<p class="empty">Not run yet.</p>{{/hasRuns}}
        """

    static let dead = """
        <h1>Dead jobs</h1>
        <p class="muted">Jobs out of attempts, or discarded. Retrying one queues it now with its attempts reset.</p>
        {{#hasJobs}}
        <div class="toolbar"><form method="post" action="/dead/retry-all" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="primary">Retry all {{total}} dead jobs</button></form></div>
        {{> bulkList}}
        {{/hasJobs}}
        {{^hasJobs}}<p class="empty">No dead jobs.</p>{{/hasJobs}}
        """

    static let processes = """
        <h1>Processes</h1>
        <p class="muted">The <code>crescent run</code> processes on this database, with the jobs running in each at its last heartbeat.</p>
        <p>Store: <code>{{store}}</code></p>
        {{#skew}}<p class="error-box">These processes loaded {{skew}} different versions of the task files (a rollout in progress?): a job runs with the definition of the process that claims it.</p>{{/skew}}
        {{#hasProcesses}}
        <table>
        <thead><tr><th>Process</th><th>Host</th><th class="num">PID</th><th>Queues</th><th>Crescent</th><th>Tasks version</th><th class="num">RSS</th><th>Started</th><th>Heartbeat</th><th class="num">Busy</th><th>Running</th><th></th></tr></thead>
        <tbody>
        {{#processes}}<tr>
        <td><code class="small">{{id}}</code></td><td>{{host}}</td><td class="num">{{pid}}</td><td>{{queues}}</td>
        <td>{{version}}</td><td><code class="small">{{tasksVersion}}</code></td>
        <td class="num"><span title="{{rssBytes}} bytes">{{rss}}</span></td>
        <td><span title="{{startedAtFull}}">{{startedAt}}</span></td>
        <td><span title="{{heartbeatAtFull}}">{{heartbeatAt}}</span>{{#stale}} <span class="badge s-dead">stale</span>{{/stale}}</td>
        <td class="num"><strong>{{busy}}</strong> / {{capacity}}</td>
        <td>{{#running}}<a href="/jobs/{{id}}">{{id}}</a> {{/running}}</td>
        <td>{{#stopping}}<span class="badge s-dead">stopping</span>{{/stopping}}{{^stopping}}{{#quiet}}<span class="badge">quiet</span>{{/quiet}}{{^quiet}}<form method="post" action="/processes/{{urlID}}/quiet" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Quiet</button></form>{{/quiet}}<form method="post" action="/processes/{{urlID}}/stop" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger">Stop</button></form>{{/stopping}}</td>
        </tr>{{/processes}}
        </tbody>
        </table>
        {{/hasProcesses}}
        {{^hasProcesses}}<p class="empty">No process is running.</p>{{/hasProcesses}}
        {{#hasLost}}
        <h2>Lost</h2>
        <p class="muted">Processes that stopped heart-beating (killed, or cut off from the database): another process rescued the jobs they were running. Each stays listed for an hour.</p>
        <table>
        <thead><tr><th>Process</th><th>Host</th><th class="num">PID</th><th>Queues</th><th>Crescent</th><th class="num">RSS</th><th>Last heartbeat</th><th>Lost</th><th>Rescued jobs</th></tr></thead>
        <tbody>
        {{#lost}}<tr>
        <td><code class="small">{{id}}</code> <span class="badge s-dead">lost</span></td><td>{{host}}</td><td class="num">{{pid}}</td><td>{{queues}}</td>
        <td>{{version}}</td><td class="num"><span title="{{rssBytes}} bytes">{{rss}}</span></td>
        <td><span title="{{heartbeatAtFull}}">{{heartbeatAt}}</span></td>
        <td><span title="{{lostAtFull}}">{{lostAt}}</span></td>
        <td><strong>{{rescuedCount}}</strong>{{#rescued}} <a href="/jobs/{{id}}">{{id}}</a>{{/rescued}}{{#more}} <span class="muted">and {{more}} more</span>{{/more}}</td>
        </tr>{{/lost}}
        </tbody>
        </table>
        {{/hasLost}}
        """

    static let error = """
        <h1>{{status}} {{reason}}</h1>
        <p class="error-box">{{message}}</p>
        <p><a href="/">Back to the overview</a></p>
        """

    static let css = """
        :root{--fg:#1f2533;--muted:#6b7385;--line:#e3e6ec;--bg:#f6f7f9;--card:#fff;--accent:#3d5afe;--ok:#2f8a46;--bad:#c62f2f}
        *{box-sizing:border-box}
        body{margin:0;font:15px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
        a{color:#2f49d1;text-decoration:none}a:hover{text-decoration:underline}
        .wrap{max-width:1200px;margin:0 auto;padding:0 28px}
        header{background:#1c2130;color:#fff}
        .bar{display:flex;align-items:center;gap:32px;height:54px}
        .brand{color:#fff;font-weight:700;font-size:17px;letter-spacing:.01em}.brand:hover{text-decoration:none}
        .moon{color:#ffd166}
        nav{display:flex;gap:22px}
        nav a{color:#b9c1d3;font-size:14px}nav a:hover{color:#fff;text-decoration:none}
        nav a.on{color:#fff;box-shadow:inset 0 -2px 0 #ffd166;padding-bottom:15px;margin-bottom:-17px}
        nav .count{background:#c62f2f;color:#fff;border-radius:9px;padding:0 6px;font-size:11px;font-weight:700}
        main.wrap{padding-top:28px;padding-bottom:36px}
        footer{font-size:12px;padding-bottom:24px}
        h1{font-size:23px;margin:0 0 18px;font-weight:650;display:flex;align-items:center;gap:12px}
        h2{font-size:15px;margin:30px 0 10px;color:#3a4255;font-weight:650}
        .muted{color:var(--muted)}.small{font-size:12px}
        .cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(128px,1fr));gap:12px}
        .cards.stats{grid-template-columns:repeat(auto-fill,minmax(250px,1fr));margin-top:12px}
        .card{display:block;background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 16px;color:inherit}
        a.card:hover{border-color:#b8c2e8;text-decoration:none}
        .card .l{font-size:11px;color:var(--muted);text-transform:uppercase;letter-spacing:.06em;font-weight:600}
        .card .n{font-size:25px;font-weight:650;font-variant-numeric:tabular-nums;line-height:1.3}
        .card .sub{font-size:13px;font-weight:500;color:var(--muted)}
        .sub.ok{color:var(--ok)}.sub.bad{color:var(--bad)}
        .state-dead .n{color:var(--bad)}.state-running .n{color:#3d5afe}.state-retrying .n{color:#b86200}
        .panel{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
        .chart svg{display:block;width:100%;height:auto}
        .cols{display:grid;grid-template-columns:2fr 1fr;gap:24px}
        @media (max-width:900px){.cols{grid-template-columns:1fr}}
        table{width:100%;border-collapse:separate;border-spacing:0;background:var(--card);border:1px solid var(--line);border-radius:10px;overflow:hidden;font-size:14px}
        th,td{padding:8px 12px;text-align:left;border-bottom:1px solid var(--line);vertical-align:top}
        th{background:#f1f3f6;font-weight:600;font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:#4a5266;white-space:nowrap}
        tbody tr:last-child td{border-bottom:0}
        tbody tr:hover td{background:#fafbfc}
        .num{text-align:right;font-variant-numeric:tabular-nums}
        td.zero{color:#c3c8d2}
        td.err{max-width:320px;color:var(--bad);font-size:13px}
        td.actions{white-space:nowrap;text-align:right}
        tr.detail td{background:#fcfcfd}
        .badge{display:inline-block;padding:1px 9px;border-radius:10px;font-size:12px;font-weight:600;background:#eceff3;color:#3a4255;line-height:1.6;vertical-align:middle}
        h1 .badge{font-size:13px}
        .s-succeeded{background:#e3f4e8;color:#23783b}.s-running{background:#e6ebff;color:#2f49d1}
        .s-queued{background:#e8f3fb;color:#17628f}.s-scheduled{background:#f0ebff;color:#5b3cc4}
        .s-retrying,.s-snoozed{background:#fff2dc;color:#a35700}.s-dead,.s-failed,.s-aborted{background:#fde8e8;color:#b42323}
        .s-discarded{background:#fde8e8;color:#b42323}.s-cancelled,.s-expired,.s-released,.s-conflict{background:#eceff3;color:#5b6375}
        code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
        pre{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 12px;overflow:auto;white-space:pre-wrap;word-break:break-word;margin:0}
        pre.error{background:#fff6f6;border-color:#f3caca;color:#8f1d1d}
        details{margin-top:6px}summary{cursor:pointer;color:var(--muted);font-size:13px}
        button{font:inherit;font-size:13px;font-weight:600;padding:4px 12px;border-radius:7px;border:1px solid #c8cfdb;background:#fff;color:var(--fg);cursor:pointer}
        button:hover{border-color:#9aa5ba}
        button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
        input[type=checkbox]{min-width:0}
        button.danger{color:var(--bad);border-color:#efb4b4}
        form.inline{display:inline-block;margin:0 0 0 4px}
        .toolbar{margin:-6px 0 16px}.toolbar form.inline{margin:0 6px 0 0}
        .filters{display:flex;gap:12px;align-items:flex-end;margin:0 0 16px;flex-wrap:wrap}
        .filters label{font-size:11px;color:var(--muted);display:flex;flex-direction:column;gap:3px;text-transform:uppercase;letter-spacing:.05em;font-weight:600}
        select,input{font:inherit;font-size:14px;font-weight:400;text-transform:none;letter-spacing:0;padding:5px 8px;border:1px solid #c8cfdb;border-radius:7px;background:#fff;min-width:150px}
        .filters button{padding:6px 14px}.clear{font-size:13px;padding-bottom:6px}
        .pager{display:flex;justify-content:space-between;margin-top:12px;font-size:14px}
        .pager a{margin-left:14px}
        .notice{background:#e9edff;border:1px solid #c2ccff;padding:9px 14px;border-radius:8px;margin-bottom:18px}
        .error-box{background:#fff6f6;border:1px solid #f3caca;padding:10px 14px;border-radius:8px;color:#8f1d1d}
        .spaced{margin-bottom:8px}.load-error{margin:4px 0}.load-error code{color:#8f1d1d;font-weight:600}
        .empty{background:var(--card);border:1px dashed var(--line);border-radius:10px;padding:22px;text-align:center;color:var(--muted)}
        dl.kv{display:grid;grid-template-columns:150px 1fr;gap:6px 16px;background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 18px;margin:0}
        dl.kv dt{color:var(--muted)}dl.kv dd{margin:0}
        """
}
