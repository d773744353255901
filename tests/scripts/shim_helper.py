MARK = "helper beside the script"
