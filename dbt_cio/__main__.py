from dbt_cio.cli import main

main()
