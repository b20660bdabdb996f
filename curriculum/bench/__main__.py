from curriculum.bench import main

main()
