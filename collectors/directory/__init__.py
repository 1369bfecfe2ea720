"""The directory as the collectors' counterpart (`alignmon directory`): make HR's export into pseudonyms where the
key is, and check that the users the collectors send are the users the directory names."""
