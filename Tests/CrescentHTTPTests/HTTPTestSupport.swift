import Testing
@testable import CrescentHTTP
