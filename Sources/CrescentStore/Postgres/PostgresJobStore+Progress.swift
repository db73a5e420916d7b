import CrescentCore
import Foundation

extension PostgresJobStore {
    /// One statement; the rows are locked in id order first, as completions lock theirs.
    public func jobProgressUpdate(_ updates: [JobProgressUpdate]) throws -> Int {
        if updates.isEmpty { return 0 }
        return try write { conn in
            let r = try conn.query("""
                WITH l AS MATERIALIZED (
                    SELECT id FROM \(s)jobs WHERE id = ANY($1::bigint[]) AND state = 'running' ORDER BY id FOR UPDATE)
                UPDATE \(s)jobs j SET progress = v.p
                FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[]) AS v(id, attempt, owner, p), l
                WHERE l.id = v.id AND j.id = v.id AND j.state = 'running' AND j.attempt = v.attempt
                  AND j.lease_owner IS NOT DISTINCT FROM v.owner
                RETURNING j.id
                """, [PGArray(updates.map(\.jobID)), PGArray(updates.map(\.attempt)), PGArray(updates.map { $0.worker as String? }),
                      PGArray(updates.map { $0.progress.stored() as String? })])
            return r.count
        }
    }
}
