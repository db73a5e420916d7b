print("crescent")
