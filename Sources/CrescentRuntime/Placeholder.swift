// CrescentRuntime
