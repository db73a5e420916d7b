print("crescent: under construction")
