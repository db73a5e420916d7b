// The stylesheet's additions for small screens and for a dark colour scheme (the browser's
// `prefers-color-scheme`), appended to `DashboardTemplates.css`.

extension DashboardTemplates {
    static let themes = """
        .js-only{display:none}.live .js-only{display:inline}.refresh-failed footer{color:var(--bad)}
        .last-good{margin-top:4px}.last-good .small{color:var(--bad)}
        @media (max-width:640px){
        .wrap{padding:0 14px}
        .bar{flex-wrap:wrap;height:auto;gap:2px 16px;padding:8px 14px 6px}
        nav{flex-wrap:wrap;gap:0 14px;width:100%}
        nav a{padding:5px 0}
        nav a.on{box-shadow:inset 0 -2px 0 #ffd166;padding-bottom:3px;margin-bottom:0}
        main.wrap{padding-top:18px}
        h1{font-size:20px;flex-wrap:wrap}
        table{display:block;overflow-x:auto;white-space:nowrap}
        td.err{white-space:normal;min-width:200px}
        dl.kv{grid-template-columns:100px 1fr;padding:12px}
        .filters label,.filters select{width:100%}select,input{min-width:0}
        .pager{flex-wrap:wrap;gap:6px}
        .cards.stats{grid-template-columns:1fr}
        }
        @media (prefers-color-scheme:dark){
        :root{--fg:#e2e6ee;--muted:#98a1b3;--line:#2b3241;--bg:#11141b;--card:#191e28;--accent:#5b74ff;--ok:#53c474;--bad:#ff7070;color-scheme:dark}
        a{color:#8fa3ff}
        header{background:#0a0c11;border-bottom:1px solid var(--line)}
        h2{color:#b9c1d1}
        a.card:hover{border-color:#46508a}
        .state-running .n{color:#8fa3ff}.state-retrying .n{color:#f0a64b}
        th{background:#202633;color:#aab3c5}
        tbody tr:hover td{background:#1e2430}
        td.zero{color:#4b5468}
        tr.detail td{background:#161a23}
        .badge{background:#2a3140;color:#c6cddb}
        .s-succeeded{background:#183524;color:#7bdc98}.s-running{background:#1f2850;color:#a9b7ff}
        .s-queued{background:#152d3d;color:#86c6ee}.s-scheduled{background:#2a2250;color:#c1b0ff}
        .s-retrying,.s-snoozed{background:#3b2a12;color:#f5b862}.s-dead,.s-failed,.s-aborted,.s-discarded{background:#3d1b1e;color:#ff9d9d}
        .s-cancelled,.s-expired,.s-released,.s-conflict{background:#2a3140;color:#aab3c5}
        pre{background:#141821}
        pre.error,.error-box{background:#2a1619;border-color:#5e2a2f;color:#ffb4b4}
        .load-error code{color:#ffb4b4}
        button{background:#222836;border-color:#3a4357;color:var(--fg)}button:hover{border-color:#5a6580}
        button.danger{border-color:#6b3338}
        select,input{background:#141821;border-color:#3a4357;color:var(--fg)}
        .notice{background:#1b2246;border-color:#34408c}
        .chart svg line{stroke:#2b3241}.chart svg text{fill:#98a1b3}
        }
        """
}
