import CrescentCore
import CrescentRuntime
import Foundation
import Hummingbird

/// The tasks page's "Run now" buttons: `POST /tasks/run` (form fields `task`, and `schedule`
/// naming one of its schedules by id) enqueues one job of the task now, as `crescent enqueue`
/// does, with that schedule's args (`{}` for a task without schedules). Protected like the
/// other dashboard forms (CSRF token, same origin).
extension HTTPServer {
    func runTaskNow(_ request: Request) async throws -> Response {
        let form = RequestInput.form(try await RequestInput.body(request))
        return try await formAction(request, form: form, fallback: "/tasks") {
            guard let name = form["task"], !name.isEmpty else { throw HTTPFailure.badRequest("the form names no task (field \"task\")") }
            guard let def = self.registry.task(named: name) else { throw HTTPFailure.notFound("unknown task \"\(name)\"") }
            var args = "{}"
            if let id = form["schedule"] {
                guard let sched = def.allSchedules.first(where: { $0.id == id }) else {
                    throw HTTPFailure.notFound("task \"\(name)\" has no schedule \"\(id)\"")
                }
                args = sched.args
            }
            let (enqueuer, run) = (self.enqueuer, Enqueuer.Request(task: def.name, args: args))
            let result = try await self.io { try enqueuer.enqueue(run) }
            if !result.duplicate { self.onEnqueued() }
            return result.duplicate ? "duplicate:\(result.id)" : "enqueued:\(result.id)"
        }
    }
}
