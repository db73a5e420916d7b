// CrescentHTTP
